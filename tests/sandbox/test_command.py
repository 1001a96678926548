import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sandbox.management.commands.sandbox import Command


def test_command_refuses_when_sandbox_disabled(settings):
    settings.SANDBOX_ENABLED = False
    with pytest.raises(CommandError, match="SANDBOX_ENABLED is false"):
        call_command(Command(), "--port", "0")


def test_command_rejects_overlap_outside_zero_to_one(settings):
    settings.SANDBOX_ENABLED = True
    with pytest.raises(CommandError, match="--overlap must be between 0 and 1, got 2.0"):
        call_command(Command(), "--port", "0", "--overlap", "2")


def test_command_rejects_negative_customers(settings):
    settings.SANDBOX_ENABLED = True
    with pytest.raises(CommandError, match="--customers must be zero or more"):
        call_command(Command(), "--port", "0", "--customers", "-1")
