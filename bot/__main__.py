"""Lets `python -m bot` run the command line."""

from bot.cli import main

if __name__ == "__main__":
    main()
