"""fibery-kb: publish a Fibery space as a fast static knowledge-base site."""

__version__ = "0.1.0"
