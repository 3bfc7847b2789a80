"""bench/run's harness: updcached measured against nginx and lighttpd on 127.0.0.1.

main.py ties the pieces together; servers/ holds one module per server, scenarios/ one
module per scenario, runner.py the alternated rounds they share, table.py the table.
Standard library only: it has to run from a fresh clone on any machine with Python 3.
"""
