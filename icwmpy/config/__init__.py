"""Configuration: UCI files (:mod:`.uci`) and the validated ``cwmp`` package (:mod:`.settings`)."""

from icwmpy.config.settings import ConfigError, Section, Settings, load_settings
from icwmpy.config.uci import Uci, UciError

__all__ = ["ConfigError", "Section", "Settings", "Uci", "UciError", "load_settings"]
