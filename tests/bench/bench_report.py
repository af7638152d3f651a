"""What the benchmark scripts' reports share (imported by their inline Python).

    report = bench_report.load(RESULTS_JSON, COMMAND, LOAD_BEFORE, LOAD_AFTER)

reads the JSON a bench test wrote and adds "hardware" (nproc, CPU model, kernel, the load
averages before and after) and "command"; hardware_line(report) is the line every table
carries.
"""
import json
import os
import platform


def cpu_model():
    with open("/proc/cpuinfo") as f:
        return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")


def load(run_file, command, load_before, load_after):
    with open(run_file) as f:
        report = json.load(f)
    report["hardware"] = {"nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
                          "load_before": load_before, "load_after": load_after}
    report["command"] = command
    return report


def hardware_line(report):
    h = report["hardware"]
    return (f"Hardware: nproc {h['nproc']}, {h['cpu']}, Linux {h['kernel']}; "
            f"load average before {h['load_before']}, after {h['load_after']}")
