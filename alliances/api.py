"""REST API of the organisation tree (filled in by the API work)."""


def register_routes(router) -> None:
    pass
