"""The settings dialog: edits a `Settings` value and refuses to close on an invalid one,
saying what is wrong in a sentence per field."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.messages import currencies
from ..core.tokens import TextFormat
from ..scan.decoders import decoder_names
from ..scan.opening import CameraInfo
from .netinfo import default_page_url
from .settings import INACTIVITY_RANGE, LIFETIME_RANGE, Settings

RESOLUTIONS = ("", "640x480", "1280x720", "1920x1080")


class SettingsDialog(QDialog):
    def __init__(
        self, settings: Settings, cameras: list[CameraInfo], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("qrlink settings")
        self.result_settings: Settings | None = None

        self.camera = QComboBox()
        self.camera.setEditable(True)  # a video file or stream URL can be typed in
        for cam in cameras:
            self.camera.addItem(f"{cam.index}: {cam.name}", str(cam.index))
        self._set_combo(self.camera, settings.camera)
        self.resolution = QComboBox()
        self.resolution.setEditable(True)
        self.resolution.addItems(RESOLUTIONS)
        self.resolution.setItemText(0, "")
        self._set_combo(self.resolution, settings.resolution)
        self.mirror = QCheckBox("Mirror the picture (like a mirror, for a camera facing you)")
        self.mirror.setChecked(settings.mirror)
        self.decoder = QComboBox()
        self.decoder.addItems(decoder_names())
        self._set_combo(self.decoder, settings.decoder)
        self.ice_servers = QPlainTextEdit("\n".join(settings.ice_servers))
        self.ice_servers.setPlaceholderText("one per line: stun:host:3478, turn:host:3478")
        self.ice_servers.setFixedHeight(64)
        self.ice_username = QLineEdit(settings.ice_username)
        self.ice_credential = QLineEdit(settings.ice_credential)
        self.ice_credential.setEchoMode(QLineEdit.EchoMode.Password)
        self.relay_only = QCheckBox(
            "Relay only (privacy: the phone never learns this laptop's addresses)"
        )
        self.relay_only.setChecked(settings.relay_only)
        self.page_url = QLineEdit(settings.page_url)
        self.page_url.setPlaceholderText(default_page_url())
        self.merchant = QLineEdit(settings.merchant)
        self.currency = QComboBox()
        self.currency.setEditable(True)
        self.currency.addItems(["", *sorted(currencies())])
        self._set_combo(self.currency, settings.currency)
        self.offer_lifetime = QSpinBox()
        self.offer_lifetime.setRange(1, 100_000)  # the range check gives the message
        self.offer_lifetime.setSuffix(" s")
        self.offer_lifetime.setValue(settings.offer_lifetime)
        self.inactivity = QSpinBox()
        self.inactivity.setRange(1, 100_000)
        self.inactivity.setSuffix(" s")
        self.inactivity.setValue(settings.inactivity)

        self.rendezvous_url = QLineEdit(settings.rendezvous_url)
        self.rendezvous_url.setPlaceholderText("empty: remote mode off (e.g. http://svc:8787)")
        self.handle = QLineEdit(settings.handle)
        self.handle.setPlaceholderText("e.g. corner-shop")
        self.handle.setToolTip("The name the customer types on the page to find this offer")
        self.api_token = QLineEdit(settings.api_token)
        self.api_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_token.setPlaceholderText("for TURN credentials from the service (--turn-from)")
        self.text_format = QComboBox()
        self.text_format.addItem("Compact (smallest QR code)", str(TextFormat.COMPACT))
        self.text_format.addItem("Specification's base64 JSON", str(TextFormat.SPEC))
        self.text_format.setToolTip(
            "The specification's own form makes a larger QR code; choose it only for a "
            "customer's app that does not read the compact form"
        )
        self._set_combo(self.text_format, settings.text_format)

        form = QFormLayout()
        form.addRow("Camera:", self.camera)
        form.addRow("Resolution:", self.resolution)
        form.addRow("", self.mirror)
        form.addRow("QR decoder:", self.decoder)
        form.addRow("STUN/TURN servers:", self.ice_servers)
        form.addRow("TURN username:", self.ice_username)
        form.addRow("TURN credential:", self.ice_credential)
        form.addRow("", self.relay_only)
        form.addRow("Customer page URL:", self.page_url)
        form.addRow("Merchant name:", self.merchant)
        form.addRow("Currency:", self.currency)
        form.addRow("Rendezvous service:", self.rendezvous_url)
        form.addRow("Remote handle:", self.handle)
        form.addRow("Service API token:", self.api_token)
        form.addRow("Code format:", self.text_format)
        lo, hi = LIFETIME_RANGE
        form.addRow(f"Offer lifetime ({lo}–{hi}):", self.offer_lifetime)
        lo, hi = INACTIVITY_RANGE
        form.addRow(f"Close after inactivity ({lo}–{hi}):", self.inactivity)

        self.problems = QLabel("")
        self.problems.setStyleSheet("color: #b42318;")
        self.problems.setWordWrap(True)
        self.problems.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problems)
        layout.addWidget(buttons)

    @staticmethod
    def _set_combo(combo: QComboBox, value: str) -> None:
        index = combo.findData(value)
        if index < 0:
            index = combo.findText(value)
        if index >= 0:
            combo.setCurrentIndex(index)
        elif combo.isEditable():
            combo.setEditText(value)

    @staticmethod
    def _combo_value(combo: QComboBox) -> str:
        text = combo.currentText().strip()
        index = combo.findText(text)
        data = combo.itemData(index) if index >= 0 else None
        return str(data) if data is not None else text

    def edited(self) -> Settings:
        return Settings(
            camera=self._combo_value(self.camera),
            resolution=self.resolution.currentText().strip(),
            mirror=self.mirror.isChecked(),
            decoder=self.decoder.currentText(),
            ice_servers=tuple(self.ice_servers.toPlainText().split()),
            ice_username=self.ice_username.text().strip(),
            ice_credential=self.ice_credential.text(),
            relay_only=self.relay_only.isChecked(),
            page_url=self.page_url.text().strip(),
            merchant=self.merchant.text().strip(),
            currency=self.currency.currentText().strip().upper(),
            offer_lifetime=self.offer_lifetime.value(),
            inactivity=self.inactivity.value(),
            rendezvous_url=self.rendezvous_url.text().strip(),
            handle=self.handle.text().strip(),
            api_token=self.api_token.text().strip(),
            text_format=self._combo_value(self.text_format),
        )

    def accept(self) -> None:
        settings = self.edited()
        problems = settings.problems()
        if problems:
            self.problems.setText("Not saved. " + " ".join(problems))
            self.problems.show()
            return
        self.result_settings = settings
        super().accept()
