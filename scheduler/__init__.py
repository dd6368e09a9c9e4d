"""Calendar logic as pure functions: China's holidays, the organization-life day, quarters."""
