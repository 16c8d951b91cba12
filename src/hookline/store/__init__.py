"""Storage: tables, queries and migrations. The only code that speaks SQL."""
