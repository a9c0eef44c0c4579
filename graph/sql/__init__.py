"""From spec to SQL: tables, filters, statements and their execution (never imports strawberry)."""
