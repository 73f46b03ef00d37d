"""Label templates: one a product, or the default for products without their own.

    template_for(db, "W-1")  # the product's own, else the default set, else DEFAULT_TEMPLATE

Reading needs `catalog.read`, changing `catalog.write`; every change is in the audit trail
(before and after). A template is stored as the JSON of `labels.schemas.Template` and checked
again when read, so a renderer never meets one it cannot draw.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import product_row
from unitrace.core import gs1
from unitrace.core.errors import Conflict, FieldError, NotFound, invalid
from unitrace.db.engine import Database
from unitrace.db.tables import label_templates, products
from unitrace.labels.render import LabelData, preview_png, preview_svg
from unitrace.labels.schemas import DEFAULT_TEMPLATE, PreviewIn, Template, TemplateIn
from unitrace.verify import codes, links

SAMPLE_GTIN = "09506000134352"  # GS1's example GTIN, for a product that has none
SAMPLE_CODE = "7K3MQ9XW2D4FHT8C"  # a made-up verification code: previews of {verify.…}

_QUERY = (
    select(label_templates, products.c.code.label("product_code"))
    .select_from(label_templates)
    .outerjoin(products, products.c.id == label_templates.c.product_id)
)


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "product": row.product_code,
        "name": row.name,
        "template": row.body,
        "updated_at": row.updated_at.isoformat(),
        "updated_by": row.updated_by,
    }


def _row(conn: Connection, template_id: int) -> Any:
    row = conn.execute(_QUERY.where(label_templates.c.id == template_id)).first()
    if row is None:
        raise NotFound(
            f"no label template {template_id}",
            [FieldError("id", "unknown label template", template_id)],
        )
    return row


def list_templates(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """Every template: the default first, then by product code."""
    actor.require("catalog.read")
    with db.read() as conn:
        rows = conn.execute(_QUERY.order_by(products.c.code.is_not(None), products.c.code)).all()
        return [_public(row) for row in rows]


def get_template(db: Database, actor: Actor, template_id: int) -> dict[str, Any]:
    actor.require("catalog.read")
    with db.read() as conn:
        return _public(_row(conn, template_id))


def _product_id(conn: Connection, code: str | None) -> int | None:
    return None if code is None else int(product_row(conn, code).id)


def _taken(product: str | None) -> Conflict:
    if product is None:
        detail = "the default has a label template already: change that one"
    else:
        detail = f"product {product!r} has a label template already: change that one"
    return Conflict(detail, [FieldError("product", "has a label template already", product)])


def _values(actor: Actor, data: TemplateIn, product_id: int | None) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "is_default": product_id is None,
        "name": data.template.name,
        "body": data.template.model_dump(mode="json"),
        "updated_at": datetime.now(UTC),
        "updated_by": actor.username,
    }


def create_template(db: Database, actor: Actor, data: TemplateIn) -> dict[str, Any]:
    actor.require("catalog.write")
    try:
        with db.write() as conn:
            product_id = _product_id(conn, data.product)
            which = (
                label_templates.c.is_default.is_(True)
                if product_id is None
                else label_templates.c.product_id == product_id
            )
            if conn.execute(select(label_templates.c.id).where(which)).first():
                raise _taken(data.product)
            inserted = conn.execute(
                insert(label_templates).values(_values(actor, data, product_id))
            )
            assert inserted.inserted_primary_key is not None
            new_id = int(inserted.inserted_primary_key[0])
            created = _public(_row(conn, new_id))
            audit.append(conn, actor, "create", "label_template", str(new_id), None, created)
            return created
    except IntegrityError:
        raise _taken(data.product) from None


def update_template(
    db: Database, actor: Actor, template_id: int, data: TemplateIn
) -> dict[str, Any]:
    """Replace a template (its product may change too); audited with before and after."""
    actor.require("catalog.write")
    try:
        with db.write() as conn:
            before = _public(_row(conn, template_id))
            product_id = _product_id(conn, data.product)
            conn.execute(
                update(label_templates)
                .where(label_templates.c.id == template_id)
                .values(_values(actor, data, product_id))
            )
            after = _public(_row(conn, template_id))
            audit.append(conn, actor, "update", "label_template", str(template_id), before, after)
            return after
    except IntegrityError:
        raise _taken(data.product) from None


def set_template(db: Database, actor: Actor, data: TemplateIn) -> dict[str, Any]:
    """Create the product's (or the default) template, or replace the one it has."""
    actor.require("catalog.write")
    with db.read() as conn:
        product_id = _product_id(conn, data.product)
        found = conn.execute(
            select(label_templates.c.id).where(
                label_templates.c.is_default.is_(True)
                if product_id is None
                else label_templates.c.product_id == product_id
            )
        ).scalar()
    if found is None:
        return create_template(db, actor, data)
    return update_template(db, actor, int(found), data)


def delete_template(db: Database, actor: Actor, template_id: int) -> None:
    actor.require("catalog.write")
    with db.write() as conn:
        before = _public(_row(conn, template_id))
        conn.execute(delete(label_templates).where(label_templates.c.id == template_id))
        audit.append(conn, actor, "delete", "label_template", str(template_id), before, None)


def template_in(conn: Connection, product_id: int | None) -> Template:
    """The template a product's labels print with, inside the caller's transaction: its own,
    else the default set, else the built-in DEFAULT_TEMPLATE."""
    rows = conn.execute(
        select(label_templates.c.product_id, label_templates.c.body).where(
            (label_templates.c.product_id == product_id) | label_templates.c.is_default.is_(True)
        )
    ).all()
    own = [row for row in rows if row.product_id is not None]
    chosen = own or rows
    return Template.model_validate(chosen[0].body) if chosen else DEFAULT_TEMPLATE


def template_for(db: Database, product: str | None) -> Template:
    """The template of a product (by code; None: the default)."""
    with db.read() as conn:
        return template_in(conn, _product_id(conn, product))


def sample_label(product: Any | None) -> LabelData:
    """A made-up unit of the product (or of GS1's example GTIN) for previews."""
    gtin = gs1.gtin14(product.gtin) if product is not None and product.gtin else SAMPLE_GTIN
    elements = gs1.unit_elements(gtin, "SAMPLE0001", "LOT001", date(2027, 12, 31))
    link = gs1.digital_link(elements, gs1.DEFAULT_STEM)
    return LabelData(
        serial="SAMPLE0001",
        gtin=gtin,
        lot="LOT001",
        expiry=date(2027, 12, 31),
        production_date=date(2026, 12, 1),
        product_code=product.code if product is not None else "SAMPLE",
        product_name=product.name if product is not None else "Sample product",
        digital_link=link,
        element_string=gs1.element_string(elements),
        verify_code=codes.display(SAMPLE_CODE),
        verify_url=codes.verify_url(SAMPLE_CODE),
        verify_digital_link=links.with_code(link, SAMPLE_CODE),
    )


def preview(
    db: Database, actor: Actor, template_id: int | None, data: PreviewIn
) -> tuple[bytes, Literal["image/png", "image/svg+xml"]]:
    """A template drawn for a sample unit of its product: the stored one, or (`data.template`)
    the one being edited, unsaved."""
    actor.require("catalog.read")
    with db.read() as conn:
        product_code = data.product
        template = data.template
        if template_id is not None:
            row = _row(conn, template_id)
            product_code = product_code or row.product_code
            template = template or Template.model_validate(row.body)
        product = product_row(conn, product_code) if product_code else None
    if template is None:
        template = DEFAULT_TEMPLATE
    label = sample_label(product)
    try:
        if data.format == "svg":
            return preview_svg(template, label).encode(), "image/svg+xml"
        return preview_png(template, label, data.dpi), "image/png"
    except ValueError as exc:  # a symbol its encoder refuses (data too long for the code)
        raise invalid("template", str(exc)) from None
