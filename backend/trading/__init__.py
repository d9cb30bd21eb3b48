"""Trading: cycle search, trade requests and their life cycle, risk and the executors."""
