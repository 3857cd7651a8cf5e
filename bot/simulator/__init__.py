"""A Pixazo stand-in for tests, local development and demos (`python -m bot simulate`)."""

from bot.simulator.app import Simulator
from bot.simulator.models import (
    BASE_PATH,
    IMAGE_SIZES,
    SAFETY_MESSAGE,
    SYSTEM_ERROR_MESSAGE,
    Endpoint,
    Fault,
    FaultKind,
    RecordedRequest,
    ResultForm,
    SimJob,
    SimulatorSettings,
    StandingFault,
)

__all__ = [
    "BASE_PATH",
    "IMAGE_SIZES",
    "SAFETY_MESSAGE",
    "SYSTEM_ERROR_MESSAGE",
    "Endpoint",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "ResultForm",
    "SimJob",
    "Simulator",
    "SimulatorSettings",
    "StandingFault",
]
