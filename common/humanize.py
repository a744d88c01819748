"""Durations in the words Docker uses ("Up 3 seconds", "Exited (0) 2 minutes ago").

berthd writes them into /containers/json's Status and the CLI into its tables;
both copy go-units' HumanDuration, rounding included.
"""

from __future__ import annotations


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: the words docker uses for "how long ago"."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)  # Go rounds hours half away from zero
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"
