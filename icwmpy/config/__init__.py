"""Configuration: UCI files (:mod:`.uci`) and the validated ``cwmp`` package (:mod:`.settings`).

Import what you need from the submodule: reading one UCI file (the ``-c`` CLI) must not
load the validator (configobj) that only the daemon's settings need.
"""
