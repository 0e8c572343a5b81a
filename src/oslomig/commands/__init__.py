"""Command cores: plain functions taking explicit arguments and an `Env`, returning an exit code."""
