"""minide.columnar: see docs/columnar.md."""

# --- csv (python/minide/columnar/csv.py) ---
from minide.columnar.csv import CsvReader as CsvReader
from minide.columnar.csv import open_csv as open_csv
from minide.columnar.csv import read_csv as read_csv
from minide.columnar.csv import skipped_lines as skipped_lines
from minide.columnar.csv import skipped_rows as skipped_rows

# --- end csv ---
