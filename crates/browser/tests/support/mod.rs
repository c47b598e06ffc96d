//! A tiny HTTP/1.1 server for the end-to-end tests: hand-written responses on a
//! tokio listener, every HTML page under a strict Content-Security-Policy.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const CSP: &str = "default-src 'self'; script-src 'self'";

/// Serves the test site on 127.0.0.1 until the test's runtime ends; returns its base
/// URL, e.g. `http://127.0.0.1:41234`.
pub async fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the test server");
    let addr: SocketAddr = listener.local_addr().expect("test server address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream));
        }
    });
    format!("http://{addr}")
}

struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<String>,
    body: String,
}

fn html(status: u16, body: String) -> Response {
    Response {
        status,
        content_type: "text/html; charset=utf-8",
        headers: vec![format!("Content-Security-Policy: {CSP}")],
        body,
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/app.css\"><script src=\"/app.js\" defer></script></head><body>{body}</body></html>"
    )
}

const APP_JS: &str = r#"
document.addEventListener('DOMContentLoaded', () => {
  const name = document.getElementById('name');
  if (name) {
    let keyups = 0;
    name.addEventListener('keyup', () => {
      keyups += 1;
      document.getElementById('echo').textContent = name.value;
      document.getElementById('keyups').textContent = String(keyups);
    });
  }
  const btn = document.getElementById('btn');
  if (btn) {
    let clicks = 0;
    btn.addEventListener('click', () => {
      clicks += 1;
      document.getElementById('clicks').textContent = String(clicks);
    });
  }
});
"#;

async fn handle(mut stream: TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let request = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = request.lines();
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_owned();
    let cookie = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        .map(|(_, v)| v.trim().to_owned());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let response = route(path, query, cookie.as_deref());
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    for h in &response.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(response.body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn route(path: &str, query: &str, cookie: Option<&str>) -> Response {
    match path {
        "/" => html(
            200,
            page(
                "Home",
                r#"<main>
<h1>Home</h1>
<label for="name">Name</label> <input id="name" autocomplete="off">
<p>Echo: <span id="echo"></span>, keyups: <span id="keyups">0</span></p>
<form action="/search" method="get">
  <label for="q">Search</label> <input id="q" name="q">
</form>
<label for="first">First</label> <input id="first">
<label for="second">Second</label> <input id="second">
<button id="btn" type="button">Count</button> <span id="clicks">0</span>
<p><a id="next" href="/next">Next page</a></p>
<div id="spacer"></div>
<p id="bottom">Bottom</p>
</main>"#,
            ),
        ),
        "/app.js" => Response {
            status: 200,
            content_type: "text/javascript; charset=utf-8",
            headers: Vec::new(),
            body: APP_JS.to_owned(),
        },
        "/app.css" => Response {
            status: 200,
            content_type: "text/css; charset=utf-8",
            headers: Vec::new(),
            // Styles too must come from a file: the CSP forbids style attributes.
            body: "#spacer { height: 2000px; }\n".to_owned(),
        },
        "/search" => {
            let q = param(query, "q").unwrap_or_default();
            html(
                200,
                page(
                    "Results",
                    &format!("<main><p id=\"result\">{}</p></main>", escape(&q)),
                ),
            )
        }
        "/next" => html(200, page("Next", "<main><h1 id=\"title\">Next</h1></main>")),
        "/inline" => html(
            200,
            page(
                "Inline",
                "<main><p>Inline script below</p><script>document.title = 'ran';</script></main>",
            ),
        ),
        "/a11y-bad" => html(
            200,
            "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>\
             <img src=\"/pixel.png\"><input type=\"text\" name=\"unlabeled\"></body></html>"
                .to_owned(),
        ),
        "/a11y-good" => html(
            200,
            "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Bonjour</title></head>\
             <body><main><h1>Bonjour</h1><p>Un formulaire accessible.</p>\
             <form action=\"/search\"><label for=\"nom\">Nom</label><input id=\"nom\" name=\"q\">\
             <button type=\"submit\">Envoyer</button></form></main></body></html>"
                .to_owned(),
        ),
        "/login" => {
            let user = param(query, "user").unwrap_or_default();
            let mut r = html(200, page("Logged in", "<main><p>ok</p></main>"));
            r.headers
                .push(format!("Set-Cookie: user={user}; Path=/; HttpOnly; SameSite=Lax"));
            r
        }
        "/whoami" => {
            let user = cookie
                .and_then(|c| c.split(';').find_map(|kv| kv.trim().strip_prefix("user=")))
                .unwrap_or("anonymous")
                .to_owned();
            html(
                200,
                page("Who", &format!("<main><p id=\"user\">{}</p></main>", escape(&user))),
            )
        }
        // Browsers ask for it on their own: answer so that it logs no error.
        "/favicon.ico" | "/pixel.png" => Response {
            status: 204,
            content_type: "image/png",
            headers: Vec::new(),
            body: String::new(),
        },
        _ => html(404, page("Not found", "<main><h1>Not found</h1></main>")),
    }
}

fn param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| decode(v))
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
