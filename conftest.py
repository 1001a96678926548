import os

# Read by oneprofile.settings: tasks run synchronously and passwords hash fast.
os.environ.setdefault("ONEPROFILE_TESTING", "1")
