"""The hidden tests import the grading recipes that sit beside them."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
