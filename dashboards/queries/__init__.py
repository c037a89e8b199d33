"""The dashboard's data layer: every SQL statement the app runs, by concern.

- `connection`: connections, caching, the warehouse checks and the build summary;
- `reference`: the lookups the pages' filters share (facilities, users, products, months);
- one module per page (`overview`, `facility_stock`, `non_sale_usage`, `finance`, `sales`,
  `item_trace`, `exceptions`, `data_quality`), holding that page's SQL;
- `analyst`: the SQL page's checked, confined analyst queries.

Pages import the modules they read, e.g. ``from dashboards.queries import facility_stock as q``.
"""
