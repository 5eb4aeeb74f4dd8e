"""Process runtime: distribution, devices, logging. `dist.py` is the only reader of the environment."""
