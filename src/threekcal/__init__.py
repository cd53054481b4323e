"""ThreeKcal."""
