"""Stage swap: every face rendered as its cast identity, or obscured when it cannot be swapped well.

The work is ``facecast.swap.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("swap")
