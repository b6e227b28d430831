"""Display names of the lab network's stored values, translated when shown (one lookup per
kind of label; an unknown value is shown as stored)."""

from __future__ import annotations

from ecosystem.labels import N_, label_in
from labs.models import EquipmentCategory

CATEGORY_LABELS = {
    EquipmentCategory.PRINTER_3D.value: N_("3D printer"),
    EquipmentCategory.LASER_CUTTER.value: N_("Laser cutter"),
    EquipmentCategory.CNC.value: N_("CNC machine"),
    EquipmentCategory.PCB_MILL.value: N_("PCB mill"),
    EquipmentCategory.ELECTRONICS_BENCH.value: N_("Electronics bench"),
    EquipmentCategory.BIOTECH_INSTRUMENT.value: N_("Biotech instrument"),
    EquipmentCategory.TEST_BED.value: N_("Test bed"),
    EquipmentCategory.OTHER.value: N_("Other"),
}


def category_label(value: object) -> str:
    """The translated name of a machine category ("Laser cutter", never "laser_cutter")."""
    return label_in(CATEGORY_LABELS, value)
