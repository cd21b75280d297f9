"""The seed task ledgers (台账) as a county clerk keeps them in Excel, built by ``build.py``."""
