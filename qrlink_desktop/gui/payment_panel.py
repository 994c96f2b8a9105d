"""Asking for a payment: amount, currency, reference, the customer's answer, the log.

Keyboard first: once the code is confirmed the amount field has the focus and Enter (in
any field) sends the request. The amount is checked with the protocol's own validator
(`core.messages.check_amount`) before anything is sent; a refusal is one sentence under
the fields. The customer's approval or decline fills a large coloured band.
"""

from __future__ import annotations

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QFont, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import QrlinkError
from ..core.events import MessageEvent
from ..core.messages import check_amount, currencies
from .message_log import JsonOf, MessageLog, StatusOf

# Digits with one decimal point (or comma, as many keyboards type it); the currency's
# number of decimals is checked on sending, by the protocol's validator.
AMOUNT_PATTERN = r"^\d{0,12}([.,]\d{0,4})?$"


def normalise_amount(text: str) -> str:
    return text.strip().replace(",", ".")


class PaymentPanel(QWidget):
    requested = Signal(str, str, str)  # amount, currency, reference

    def __init__(
        self, status_of: StatusOf, json_of: JsonOf, currency: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("0.00")
        self.amount.setValidator(QRegularExpressionValidator(QRegularExpression(AMOUNT_PATTERN)))
        self.amount.setAccessibleName("Amount")
        big = QFont(self.amount.font())
        big.setPointSizeF(big.pointSizeF() * 1.4)
        self.amount.setFont(big)
        self.currency = QComboBox()
        self.currency.setEditable(True)
        self.currency.addItems(sorted(currencies()))
        self.currency.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.currency.setAccessibleName("Currency")
        self.set_currency(currency)
        self.reference = QLineEdit()
        self.reference.setPlaceholderText("optional, e.g. receipt number")
        self.reference.setMaxLength(64)
        self.send_button = QPushButton("Request payment (Enter)")
        self.send_button.setAutoDefault(True)
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #b42318;")
        self.error_label.setWordWrap(True)
        self.hint_label = QLabel("Confirm the verification code to request a payment.")
        self.hint_label.setStyleSheet("color: palette(mid);")

        self.outcome = QLabel("")
        self.outcome.setObjectName("outcome")
        self.outcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.outcome.setAccessibleName("Customer's answer")
        outcome_font = QFont(self.outcome.font())
        outcome_font.setPointSizeF(outcome_font.pointSizeF() * 1.6)
        outcome_font.setBold(True)
        self.outcome.setFont(outcome_font)
        self.outcome.hide()
        self.outcome_status = ""  # requested / approved / declined, for tests and a11y

        amount_row = QHBoxLayout()
        amount_row.addWidget(self.amount, 3)
        amount_row.addWidget(self.currency, 1)
        form = QFormLayout()
        form.addRow("Amount:", amount_row)
        form.addRow("Reference:", self.reference)

        self.log = MessageLog(status_of, json_of)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.send_button)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.outcome)
        layout.addWidget(QLabel("Messages (double-click for the JSON):"))
        layout.addWidget(self.log, 1)

        self.send_button.clicked.connect(self.submit)
        self.amount.returnPressed.connect(self.submit)
        self.reference.returnPressed.connect(self.submit)
        line = self.currency.lineEdit()
        if line is not None:
            line.returnPressed.connect(self.submit)
        self.set_enabled(False)

    def set_currency(self, code: str) -> None:
        index = self.currency.findText(code)
        if index >= 0:
            self.currency.setCurrentIndex(index)
        else:
            self.currency.setEditText(code)

    def set_enabled(self, enabled: bool, hint: str = "") -> None:
        for widget in (self.amount, self.currency, self.reference, self.send_button):
            widget.setEnabled(enabled)
        self.hint_label.setText(hint)
        self.hint_label.setVisible(bool(hint))
        if enabled:
            self.amount.setFocus(Qt.FocusReason.OtherFocusReason)
            self.amount.selectAll()

    def submit(self) -> None:
        if not self.send_button.isEnabled():
            return
        amount = normalise_amount(self.amount.text())
        currency = self.currency.currentText().strip().upper()
        if not amount:
            self.show_error("Type the amount to request.")
            return
        try:
            check_amount(amount, currency)
        except QrlinkError as exc:
            self.show_error(exc.message[0].upper() + exc.message[1:] + ".")
            return
        except ArithmeticError:  # "." alone
            self.show_error(f"{amount!r} is not an amount.")
            return
        self.show_error("")
        self.requested.emit(amount, currency, self.reference.text().strip())

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        if text:
            self.amount.setFocus(Qt.FocusReason.OtherFocusReason)

    def show_requested(self, amount: str, currency: str) -> None:
        self.outcome_status = "requested"
        self.outcome.setText(f"Waiting for the customer… {amount} {currency}")
        self.outcome.setStyleSheet(
            "#outcome { background: #e8eef8; color: #1f3f6e; border-radius: 8px; padding: 10px; }"
        )
        self.outcome.show()
        self.amount.clear()
        self.reference.clear()

    def show_response(self, event: MessageEvent, amount: str, currency: str) -> None:
        status = str(event.payload.get("status", ""))
        reason = event.payload.get("reason")
        self.outcome_status = status
        if status == "approved":
            text, style = f"✔ APPROVED  {amount} {currency}", "background: #1b7a2f; color: white;"
        else:
            text = f"✘ DECLINED  {amount} {currency}" + (f" — {reason}" if reason else "")
            style = "background: #b42318; color: white;"
        self.outcome.setText(text)
        self.outcome.setStyleSheet(f"#outcome {{ {style} border-radius: 8px; padding: 10px; }}")
        self.outcome.show()

    def clear_outcome(self) -> None:
        self.outcome_status = ""
        self.outcome.hide()
        self.show_error("")
