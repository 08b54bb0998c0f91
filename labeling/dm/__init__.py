"""Label Studio's Data Manager: its task queries (filters, ordering, selected items), saved
views (tabs) and actions on a selection, over labelfab's tasks."""
