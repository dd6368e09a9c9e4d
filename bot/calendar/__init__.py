"""Pure calendar logic: quarters, China's holidays and the organization-life day."""
