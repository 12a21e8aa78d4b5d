"""The built-in simulator: a seeded, vectorized generator of a believable product."""

from product_analytics.simulator.events import generate_day
from product_analytics.simulator.landing import LandingWriter, events_file, source_file
from product_analytics.simulator.world import SimulationConfig

__all__ = ["LandingWriter", "SimulationConfig", "events_file", "generate_day", "source_file"]
