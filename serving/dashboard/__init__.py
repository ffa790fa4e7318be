"""The responders' dashboard, mounted at /ui by the service: queue, journey health, alert drill-down."""
