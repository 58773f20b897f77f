"""The Lookout console (Textual app) and its command line."""
