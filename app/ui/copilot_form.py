"""The copilot form: name, provider, model (with its adapter and control vector), sampling, tools and knowledge,
checked as the CLI checks a manifest; the roster opens it to add or edit a copilot."""

from __future__ import annotations

from typing import Any

from app.core.crew.copilots import Copilot, id_from_name, parse_manifest
from app.core.errors import RoundtableError
from app.ui.design import fit_to_screen, scrolling_form
from app.ui.qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    Qt,
    QWidget,
)
from app.ui.tool_grants import ToolGrants

STARTER_LABEL = "(starter model)"
NO_ADAPTER = "None"


def _choice(combo: QComboBox, current: str | None) -> None:
    """Select `current` (an installed id or a path) in `combo`, adding it when it is not installed (any more)."""
    if not current:
        return
    index = combo.findData(current)
    if index < 0:
        combo.addItem(current, current)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


_PROVIDERS = (
    ("A local model", "local"),
    ("An OpenAI-compatible server", "openai"),
    ("An OpenBB Workspace agent", "openbb"),
    ("An A2A agent", "a2a"),
)
_KNOWLEDGE = (("When it runs locally (auto)", "auto"), ("Always", True), ("Never", False))


class CopilotDialog(QDialog):
    """A form over a copilot's manifest; `manifest()` gives the edited fields as a dict.

    `models` are the installed models (`hub.installed.InstalledModel`, read off the GUI thread): the model combo
    offers the models, the adapter and control vector combos the LoRA adapters and control vectors (or None), each
    with its scale.

    Attributes:
        saved: the checked copilot, once Save was pressed on a valid form (invalid input is explained in the form,
            which stays open).
    """

    def __init__(
        self,
        copilot: Copilot | None,
        models: list[Any],
        others: list[str],
        parent: QWidget | None = None,
        tools: list[tuple[str, str]] | None = None,
        keys: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Copilot: {copilot.name}" if copilot else "New copilot")
        self.base = copilot.model_dump() if copilot else {}
        self.taken = [] if copilot else others  # a new copilot may not take an existing id
        self.saved: Copilot | None = None
        form, outer = scrolling_form(self)
        self.id_edit = QLineEdit(copilot.id if copilot else "")
        self.id_edit.setReadOnly(copilot is not None)
        self.id_edit.setPlaceholderText("made from the name")
        self.name_edit = QLineEdit(copilot.name if copilot else "")
        if copilot is None:  # the id follows the name as it is typed, until the user writes one
            self.name_edit.textEdited.connect(self._name_typed)
            self.id_edit.textEdited.connect(lambda _text: setattr(self, "id_typed", True))
        self.id_typed = False
        self.color_edit = QLineEdit(copilot.color if copilot else "#5b7cfa")
        self.description_edit = QLineEdit(copilot.description if copilot else "")
        self.skills_edit = QLineEdit(", ".join(copilot.skills) if copilot else "")
        self.model_combo = QComboBox()
        self.model_combo.addItem(STARTER_LABEL, None)
        self.lora_combo = QComboBox()
        self.lora_combo.addItem(NO_ADAPTER, None)
        self.vector_combo = QComboBox()
        self.vector_combo.addItem(NO_ADAPTER, None)
        for model in models:
            if model.adapter == "control_vector":
                self.vector_combo.addItem(f"{model.id} (for {model.architecture or '?'})", model.id)
            elif model.adapter:
                self.lora_combo.addItem(f"{model.id} (for {model.architecture or '?'})", model.id)
            else:
                self.model_combo.addItem(f"{model.id} ({model.quant or '?'})", model.id)
        _choice(self.model_combo, copilot.model if copilot else None)
        _choice(self.lora_combo, copilot.lora if copilot else None)
        _choice(self.vector_combo, copilot.control_vector if copilot else None)
        # the manifest's bounds: a LoRA scale 0 to 4, a control vector's strength -4 to 4 (negative: the other way)
        self.lora_scale = QDoubleSpinBox(minimum=0.0, maximum=4.0, singleStep=0.1, decimals=2)
        self.lora_scale.setValue(copilot.lora_scale if copilot else 1.0)
        self.vector_strength = QDoubleSpinBox(minimum=-4.0, maximum=4.0, singleStep=0.1, decimals=2)
        self.vector_strength.setValue(copilot.control_vector_strength if copilot else 1.0)
        self.lora_combo.setAccessibleName("LoRA adapter")
        self.lora_scale.setAccessibleName("LoRA adapter scale")
        self.vector_combo.setAccessibleName("Control vector")
        self.vector_strength.setAccessibleName("Control vector strength")
        adapter_row = self.adapter_row = QHBoxLayout()
        adapter_row.addWidget(self.lora_combo, 1)
        adapter_row.addWidget(QLabel("scale"))
        adapter_row.addWidget(self.lora_scale)
        vector_row = self.vector_row = QHBoxLayout()
        vector_row.addWidget(self.vector_combo, 1)
        vector_row.addWidget(QLabel("strength"))
        vector_row.addWidget(self.vector_strength)
        self.system_edit = QPlainTextEdit(copilot.system_prompt if copilot else "")
        self.system_edit.setMaximumHeight(90)
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=2.0, singleStep=0.1, decimals=2)
        self.temperature.setValue(copilot.sampling.temperature if copilot else 0.7)
        self.max_tokens = QSpinBox(minimum=0, maximum=32768)
        self.max_tokens.setSpecialValueText("default")  # a setter: the stubs lack this property as a keyword
        self.max_tokens.setValue((copilot.sampling.max_tokens or 0) if copilot else 0)
        self.handoff_edit = QLineEdit(", ".join(copilot.handoff_to) if copilot else "")
        self.handoff_edit.setPlaceholderText(", ".join(others))
        self.tools = ToolGrants(copilot.tools if copilot else [], tools or [])
        remote = copilot is not None and copilot.provider != "local"
        self.provider = QComboBox()
        for label, value in _PROVIDERS:
            self.provider.addItem(label, value)
        self.provider.setCurrentIndex(max(self.provider.findData(copilot.provider if copilot else "local"), 0))
        self.endpoint_edit = QLineEdit((copilot.endpoint or "") if copilot else "")
        self.endpoint_edit.setPlaceholderText("https://… (the server's base URL)")
        self.remote_model = QLineEdit((copilot.model or "") if remote and copilot else "")
        self.remote_model.setPlaceholderText("the server's model name")
        self.agent_edit = QLineEdit((copilot.agent or "") if copilot else "")
        self.agent_edit.setPlaceholderText("the agent's id in the server's agents.json (optional)")
        self.key_combo = QComboBox()  # the keys saved through Roundtable, by name (never their values)
        self.key_combo.setEditable(True)  # or env:NAME, or a key saved later
        self.key_combo.addItems(["", *(keys or [])])
        self.key_combo.setCurrentText((copilot.api_key_name or "") if copilot else "")
        self.knowledge = QComboBox()
        for shown, reads in _KNOWLEDGE:
            self.knowledge.addItem(shown, reads)
        self.knowledge.setCurrentIndex(max(self.knowledge.findData(copilot.knowledge if copilot else "auto"), 0))
        self.form = form
        for label, widget in (
            ("Id", self.id_edit),
            ("Name", self.name_edit),
            ("Colour", self.color_edit),
            ("Description", self.description_edit),
            ("Skills", self.skills_edit),
            ("Runs on", self.provider),
            ("Endpoint", self.endpoint_edit),
            ("Server's model", self.remote_model),
            ("Agent", self.agent_edit),
            ("API key (keychain)", self.key_combo),
            ("Model", self.model_combo),
            ("LoRA adapter", self.adapter_row),
            ("Control vector", self.vector_row),
            ("System prompt", self.system_edit),
            ("Temperature", self.temperature),
            ("Max reply tokens", self.max_tokens),
            ("May hand off to", self.handoff_edit),
            ("Reads documents", self.knowledge),
            ("Tools", self.tools),
        ):
            form.addRow(label, widget)
        self.provider.currentIndexChanged.connect(lambda _index: self._show_provider_fields())
        self._show_provider_fields()
        self.error = QLabel()
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # errors quote the manifest and the server
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        fit_to_screen(self)

    def _show_provider_fields(self) -> None:
        """A local copilot's model, adapter and control vector, or a remote one's endpoint, model name and key."""
        provider = self.provider.currentData()
        local = provider == "local"
        for widget in (self.endpoint_edit, self.remote_model, self.key_combo):
            self.form.setRowVisible(widget, not local)
        self.form.setRowVisible(self.agent_edit, provider == "openbb")
        self.form.setRowVisible(self.remote_model, provider == "openai")
        self.form.setRowVisible(self.model_combo, local)
        self.form.setRowVisible(self.adapter_row, local)
        self.form.setRowVisible(self.vector_row, local)

    def _name_typed(self, name: str) -> None:
        if not self.id_typed:
            self.id_edit.setText(id_from_name(name, self.taken) if name.strip() else "")

    def accept(self) -> None:
        try:
            saved = parse_manifest(self.manifest(), "from the form")
            if saved.id in self.taken:
                raise ValueError(f"a copilot '{saved.id}' exists already")
        except (RoundtableError, ValueError) as exc:
            self.error.setText(str(exc))
            return
        self.saved = saved
        super().accept()

    def manifest(self) -> dict[str, Any]:
        def words(text: str) -> list[str]:
            return [w.strip() for w in text.split(",") if w.strip()]

        data = dict(self.base)
        provider = self.provider.currentData()
        local = provider == "local"
        data.update(
            provider=provider,
            endpoint=None if local else self.endpoint_edit.text().strip() or None,
            agent=self.agent_edit.text().strip() or None if provider == "openbb" else None,
            api_key_name=None if local else self.key_combo.currentText().strip() or None,
            knowledge=self.knowledge.currentData(),
            id=self.id_edit.text().strip() or id_from_name(self.name_edit.text(), self.taken),
            name=self.name_edit.text().strip(),
            color=self.color_edit.text().strip(),
            description=self.description_edit.text().strip(),
            skills=words(self.skills_edit.text()),
            model=self.model_combo.currentData() if local else self.remote_model.text().strip() or None,
            lora=self.lora_combo.currentData() if local else None,
            lora_scale=self.lora_scale.value(),
            control_vector=self.vector_combo.currentData() if local else None,
            control_vector_strength=self.vector_strength.value(),
            system_prompt=self.system_edit.toPlainText().strip(),
            handoff_to=words(self.handoff_edit.text()),
            tools=self.tools.granted(),
        )
        sampling = dict(data.get("sampling") or {})
        sampling.update(temperature=self.temperature.value(), max_tokens=self.max_tokens.value() or None)
        data["sampling"] = sampling
        return data
