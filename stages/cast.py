"""Stage cast: synthetic identities under demographic quotas, and who plays every face track.

The work is ``facecast.cast.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("cast")
