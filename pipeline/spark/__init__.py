"""The Spark engine of the offline jobs: the project's own definitions, partitioned by Spark."""
