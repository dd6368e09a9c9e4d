"""The wording every layer shares: Babel catalogs and the phrases built from them."""
