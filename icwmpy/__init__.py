"""icwmpy: a TR-069 / CWMP agent (CPE side), a Python port of iopsys icwmp."""

__version__ = "0.1.0"
