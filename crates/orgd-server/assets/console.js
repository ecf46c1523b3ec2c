// orgd console: the copy buttons and confirmations of destructive forms (every page works without it).
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var source = document.getElementById(button.dataset.copy);
    var status = button.parentElement.querySelector(".copied");
    var text = source ? source.textContent.trim() : "";
    var done = function () { if (status) { status.textContent = "Copied"; } };
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      if (document.execCommand("copy")) { done(); } else if (status) { status.textContent = "Selected: press Ctrl+C"; }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  });
});

// A form with data-confirm asks before it is sent (removing a property deletes its values).
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
});
