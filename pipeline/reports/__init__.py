"""Reports: pages, tables, figures and JSON made from a job's result objects (pipeline/results.py).

A report computes nothing a job needs and imports no job; a job calls its report to write files.
"""
