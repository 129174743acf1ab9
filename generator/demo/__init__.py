"""The demo workspace shipped with fibery-kb, rendered by ``gen build --demo`` without network."""
