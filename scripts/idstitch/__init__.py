"""idstitch: warehouse-native identity stitching, a dbt project with a Python orchestrator."""

__version__ = "0.1.0"
