"""The parts of the benchmark that bench/report.py puts together: the data set, the processes, the scenarios, the
closed loop (wrk), the paced driver and the report."""
