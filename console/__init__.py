"""The operators' console: a Textual app that is a feed client like any other."""
