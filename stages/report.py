"""Stage report: reports/index.html (internal: it shows original faces) and the dataset's plot data.

The work is ``facecast.report.stage.run``; ``-v`` says what it does."""

from facecast.runner import main

if __name__ == "__main__":
    main("report")
