"""Plugin parameters as a form: one field per spec (float, int, bool, choice), its range, default and help; the
values a recipe keeps, and a recipe's values shown again."""

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from studio.plugins import Parameter
from studio.ui.fields import SliderField
from studio.ui.plugin_params import ParameterForm

SPECS = (
    Parameter("churn", "float", 0.5, 0.0, 10.0, 0.25, label="Churn", help="noise added back"),
    Parameter("order", "int", 2, 1, 4, 1, help="solver order"),
    Parameter("karras", "bool", False, label="Karras sigmas"),
    Parameter("mode", "choice", "fast", choices=("fast", "exact")),
    Parameter("s_noise", "float", 1.003, 0.9, 1.1, 0.001),
)


@pytest.fixture
def form(qtbot):
    form = ParameterForm(SPECS)
    qtbot.addWidget(form)
    return form


def test_each_type_gets_its_field_with_the_specs_range_default_and_help(form):
    churn, order, karras, mode = (form.fields[name] for name in ("churn", "order", "karras", "mode"))
    assert isinstance(churn, SliderField) and isinstance(churn.spin, QDoubleSpinBox)
    assert (churn.spin.minimum(), churn.spin.maximum(), churn.spin.singleStep(), churn.value()) == (0.0, 10.0, 0.25, 0.5)
    assert churn.toolTip() == "noise added back"
    assert isinstance(order, SliderField) and isinstance(order.spin, QSpinBox)
    assert (order.spin.minimum(), order.spin.maximum(), order.value()) == (1, 4, 2)
    assert isinstance(karras, QCheckBox) and not karras.isChecked()
    assert isinstance(mode, QComboBox) and [mode.itemText(i) for i in range(mode.count())] == ["fast", "exact"]
    assert form.fields["s_noise"].spin.decimals() == 3 and form.fields["s_noise"].value() == 1.003
    assert form.values() == {"churn": 0.5, "order": 2, "karras": False, "mode": "fast", "s_noise": 1.003}
    assert form.changed_values() == {}


def test_changed_values_are_the_ones_that_differ_from_the_defaults(qtbot, form):
    with qtbot.waitSignal(form.changed):
        form.fields["churn"].spin.setValue(2.75)
    form.fields["order"].slider.setValue(3)
    form.fields["karras"].setChecked(True)
    form.fields["mode"].setCurrentIndex(1)
    assert form.changed_values() == {"churn": 2.75, "order": 3, "karras": True, "mode": "exact"}
    assert isinstance(form.changed_values()["order"], int)


def test_set_values_shows_them_resets_the_rest_and_names_what_it_skipped(form):
    form.fields["order"].spin.setValue(4)
    skipped = form.set_values({"churn": 1.5, "karras": True, "mode": "nope", "unknown": 1, "s_noise": 5.0})
    assert sorted(skipped) == ["mode", "s_noise", "unknown"]
    assert form.values() == {"churn": 1.5, "order": 2, "karras": True, "mode": "fast", "s_noise": 1.003}
    form.reset()
    assert form.changed_values() == {}


def test_no_parameters_no_form_and_new_specs_rebuild_it(form):
    form.set_specs(())
    assert form.fields == {} and form.values() == {} and form.isHidden()
    form.set_specs(SPECS[:1])
    assert list(form.fields) == ["churn"] and not form.isHidden()
