import sys
from pathlib import Path

# tests/phantoms.py is shared by the tests and bench/.
sys.path.insert(0, str(Path(__file__).parent))
