"""`python -m preprocess --dataset ...`: see preprocess/cli.py."""
import sys

from preprocess.cli import main

sys.exit(main())
