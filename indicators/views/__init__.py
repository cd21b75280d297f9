"""Pages of filing and indicators, one module per concern: filing (我的填报, the grid, review,
audit, completeness), excel (templates and uploads), pages (indicator tables, charts and
evaluation), definitions (data elements, forms and indicators kept by the bureau)."""
