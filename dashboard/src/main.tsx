// The operator dashboard's entry point: renders the app into #app.
import { render } from "preact";
import { App } from "./views/app.js";
import { createClients } from "./clients.js";
import "./styles.css";

const root = document.getElementById("app");
if (root !== null) render(<App clients={createClients()} />, root);
