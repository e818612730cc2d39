"""TR-181 data model engine: definitions, paths, types, instances, attributes, transactions."""

from icwmpy.model.engine import DataModel

__all__ = ["DataModel"]
