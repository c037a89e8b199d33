"""Stand-in for dbt's ``adapter`` for sqlfluff's jinja templater: dispatch renders a
placeholder expression of the dispatched macro's name."""


def dispatch(macro_name, macro_namespace=None):
    def render(*args, **kwargs):
        if macro_name == "money_type":
            return "decimal(18, 2)"
        return f"{macro_name}({', '.join(str(a) for a in args)})"

    return render
