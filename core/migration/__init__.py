"""System migration (システム移行): the tables moved, layout files, conversion, totals."""
