"""scanboard CLI for pipelines: python -m cli scan URL …"""
