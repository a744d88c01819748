"""Tasks: one berth-shim per container, started through the fork server; restart recovery.

Deliberately empty of imports: main.py loads forkserver alone before anything else.
"""
